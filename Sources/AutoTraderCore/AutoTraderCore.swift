public enum AutoTraderCore {}

// Thin entry point: the command line lives in SimulatorCommand, the exchange in the AutoTraderSim library.
await SimulatorCommand.launch()

// Thin entry point: the command line lives in APICommand, the server in the AutoTraderAPI library.
await APICommand.launch()

// Thin entry point: the command line lives in ExecutorCommand, the service in AutoTraderCore's Executor/.
await ExecutorCommand.launch()

// Thin entry point: the command line lives in StreamerCommand, the service in AutoTraderCore's Streamer/.
await StreamerCommand.launch()

"""What users run beside the worker: the demo, the live view, the simulator, calibration,
the offline scorer, model commands and the local broker.

The command `leadscore X` is defined in `streams.tools.X`: a module, or a package whose
`cli.py` holds the commands. Tools may import the worker's runtime (`streams.kafka`,
`streams.core`); the runtime never imports a tool.
"""

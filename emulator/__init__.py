"""An offline stand-in for Adobe IMS and Firefly Services (custom models, generate-async, status, cancel),
following the contract in firefly-api.md, plus a `/_emulator` control API for scripting faults in tests.

Start it with `emulator.app.serve(settings, host, port)` or mount `emulator.app.create_app(settings)`; its
settings are `emulator.settings.EmulatorSettings` (`FFGATE_EMULATOR_*`). Seed model ids are in
`emulator.seed`.
"""

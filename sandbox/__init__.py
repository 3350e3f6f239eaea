"""The local sandbox: a Secrets Manager emulator in which the real handlers rotate real credentials."""

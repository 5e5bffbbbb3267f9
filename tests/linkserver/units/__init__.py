"""The server's modules (operations, tokens, audit) over its database in process, without HTTP."""

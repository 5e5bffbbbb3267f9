"""The kiosk's services (verification, operations, the offline outbox) with a simulated card in
process, a stand-in for the linkage server and a real store: no pcscd, no HTTP."""

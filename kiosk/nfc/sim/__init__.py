"""The simulated My Number Card, its test JPKI hierarchy, and its bridge to pcscd."""

from kiosk.nfc.sim.card import CardProfile, SimulatedCard
from kiosk.nfc.sim.faults import Fault, FaultKind, LatencyModel
from kiosk.nfc.sim.hierarchy import TestHierarchy

__all__ = ["CardProfile", "Fault", "FaultKind", "LatencyModel", "SimulatedCard", "TestHierarchy"]

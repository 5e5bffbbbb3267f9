"""The counter's flow without Qt: the screens' state machine and its link to the kiosk's services."""

from kiosk.flow.machine import FlowController, ImmediateRunner, Runner, Screen, View

__all__ = ["FlowController", "ImmediateRunner", "Runner", "Screen", "View"]

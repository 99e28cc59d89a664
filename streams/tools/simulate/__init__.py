"""Simulated lead traffic: `generate` (pure) and the `leadscore simulate` command.

from streams.tools.simulate import Faults, generate
for event in generate(seed=7, leads=200, events=5000, faults=Faults(0, 0, 0)):
    ...  # event.topic (contract name), event.key, event.value
"""

from streams.tools.simulate.faults import NO_FAULTS, Fault, Faults, SimEvent
from streams.tools.simulate.generator import generate
from streams.tools.simulate.personas import PERSONA_SHARES
from streams.tools.simulate.plan import Persona

__all__ = ["NO_FAULTS", "PERSONA_SHARES", "Fault", "Faults", "Persona", "SimEvent", "generate"]

"""``python -m campaign_bridge.cli``: the same as the ``campaign-bridge`` entry point."""

from campaign_bridge.cli import main

main()

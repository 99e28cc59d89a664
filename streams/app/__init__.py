"""The Faust shell around the pure scoring core: agents, tables, web views."""

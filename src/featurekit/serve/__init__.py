"""Features as a live service: the HTTP feature server (`featurekit serve`) and the MCP server (`featurekit mcp`).

Needs the `serve` extra (`pip install 'featurekit[serve]'`).
"""

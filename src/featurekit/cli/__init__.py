"""The `featurekit` command: one typer app in `main`, Athena commands in `athena`, shared options in
`options`. The CLI is the last stage: it may import every other stage, and nothing imports it.
"""

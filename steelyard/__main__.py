from steelyard.cli.main import app

app()

from clearance.cli import app

app(prog_name="clearance")

"""``python -m clearance.synth``: regenerate the bundled demo extract and its figures."""

from clearance.synth import DATA, write_sample

if __name__ == "__main__":
    figures = write_sample()
    print(f"wrote {DATA / 'sample.dat'} ({figures['rows']['read']} rows) and sample.intended.json")

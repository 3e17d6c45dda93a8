"""All SQL, in the home STYLE.md gives it. Today it holds the ownership reading
(`owners`); the modules of dnsorch/repository/ move here with the rooms issue (#25)."""

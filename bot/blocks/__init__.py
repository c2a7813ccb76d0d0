"""Words for people: Block Kit builders, pure functions from service data to Slack message
dicts, and their plain-text twin for the command line (`plain`)."""

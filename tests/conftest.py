pytest_plugins = ["tests.fixtures.bind", "tests.fixtures.servers"]

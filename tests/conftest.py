pytest_plugins = ["tests.fixtures.servers", "tests.fixtures.bind", "tests.fixtures.kafka"]

"""The domain of requests and dispatch: pure logic, an injected clock, one Redis adapter."""

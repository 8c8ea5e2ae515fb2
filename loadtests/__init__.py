"""Peak simulation and capacity benchmarks, driving the server from outside through the protocol."""

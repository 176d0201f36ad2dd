// The operator's pure core (fan-out, secret resolution, planners) comes with the server.
@_exported import OperatorCore

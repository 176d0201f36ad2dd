// Placement's pure core (the rounds, the orders, the report rules) comes with the server.
@_exported import PlacementCore

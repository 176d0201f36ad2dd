// The injector's pure core (patch planning, admission answers) comes with the server.
@_exported import InjectorCore

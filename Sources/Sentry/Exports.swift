// Sentry's pure core (certificate policy, request checks, the issuing authority, root rotation) comes with the
// server.
@_exported import SentryCore

package api

// MaxTrackedClients is maxTrackedClients, for tests.
const MaxTrackedClients = maxTrackedClients

// FailsAllowed is failsAllowed, for tests.
const FailsAllowed = failsAllowed

// Tracked returns how many client addresses the bad-key slowdown remembers,
// and how many refused keys of client.
func (s *Server) Tracked(client string) (clients, times int) { return s.fails.tracked(client) }

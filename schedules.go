package tandem

import "time"

// Schedule is a command that runs by itself in a session's thread at the
// times its When says, always as its Creator (the identity rule's row for
// scheduled runs). Its times are a standard cron expression read on the
// wall clock of Zone, or one instant (At) for a one-off.
type Schedule struct {
	ID      string     `json:"id"`
	Session SessionKey `json:"session"`
	Creator string     `json:"creator"`
	// Text is the command each run sends, as its creator wrote it.
	Text string `json:"text"`
	// Cron (minute hour day-of-month month day-of-week) or At, in Zone.
	Cron string    `json:"cron,omitempty"`
	Zone string    `json:"zone"`
	At   time.Time `json:"at,omitzero"`
	// ZoneFromSlack says the zone is the creator's Slack time zone rather
	// than one the text named.
	ZoneFromSlack bool      `json:"zone_from_slack,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	// Next is the next due time; zero when there is none (a one-off that
	// ran or was skipped).
	Next time.Time `json:"next,omitzero"`
	// LastRun is when the schedule last ran (a due time, or the press of
	// Run now); zero before its first run.
	LastRun time.Time `json:"last_run,omitzero"`
	// Paused stops the schedule's runs until it is resumed; PausedWhy says
	// why for people ("paused by @bob", "its creator left the workspace").
	Paused    bool   `json:"paused,omitempty"`
	PausedWhy string `json:"paused_why,omitempty"`
	// PausedBy is who paused it by hand: a Slack user id, or an operator
	// (empty when Tandem paused it, or before this was recorded). A pause
	// by its creator withdraws their consent, so only they may resume it.
	PausedBy string `json:"paused_by,omitempty"`
	// Gap is the provider whose missing or dead link stopped the last run;
	// the creator is told once per gap, and a run that resolves it clears it.
	Gap ProviderID `json:"gap,omitempty"`
}

// ScheduleFilter selects schedules; zero fields match every schedule.
type ScheduleFilter struct {
	Team    string
	Creator string
	Session *SessionKey
	// DueBy selects unpaused schedules whose Next is set and not after it.
	DueBy time.Time
}

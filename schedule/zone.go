package schedule

import (
	"regexp"
	"strings"
	"time"

	"github.com/tandembot/tandem"
)

// loadZone loads an IANA zone by name; it fails with EINVALID and an example
// for a name that is none.
func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, zoneError(name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, zoneError(name)
	}
	return loc, nil
}

func zoneError(name string) error {
	return tandem.Errorf(tandem.EINVALID, "“%s” is not a time zone; use one such as Europe/Berlin or UTC.", name)
}

// zoneRE is the shape of an IANA zone name: Area/Location[/More].
var zoneRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)+$`)

// ianaAreas are the first parts of IANA zone names; a lower-case word with
// a slash counts as a zone only if it starts with one, so that a command
// naming a repository (tandembot/tandem) is left alone.
var ianaAreas = map[string]bool{
	"africa": true, "america": true, "antarctica": true, "arctic": true, "asia": true,
	"atlantic": true, "australia": true, "europe": true, "indian": true, "pacific": true, "etc": true,
}

// parseZone reads an optional zone after the time, or returns def (UTC when
// def is nil).
func parseZone(c *cursor, def *time.Location) (*time.Location, error) {
	raw := strings.TrimSuffix(c.raw(), ":") // "9:00 UTC: standup"
	if raw == "" {
		raw = c.raw()
	}
	switch {
	case strings.EqualFold(raw, "UTC") || strings.EqualFold(raw, "GMT"):
		c.i++
		return time.UTC, nil
	case zoneRE.MatchString(raw):
		area, _, _ := strings.Cut(raw, "/")
		if !ianaAreas[strings.ToLower(area)] && !(area[0] >= 'A' && area[0] <= 'Z') {
			break
		}
		loc, err := loadZone(raw)
		if err != nil {
			loc, err = loadZone(canonicalZone(raw))
		}
		if err != nil {
			return nil, zoneError(raw)
		}
		c.i++
		return loc, nil
	}
	if def == nil {
		return time.UTC, nil
	}
	if _, err := loadZone(def.String()); err != nil {
		return nil, err
	}
	return def, nil
}

// canonicalZone capitalises each part of a zone name typed in lower case:
// europe/berlin → Europe/Berlin, america/new_york → America/New_York.
func canonicalZone(s string) string {
	b := []byte(strings.ToLower(s))
	up := true
	for i, ch := range b {
		if up && ch >= 'a' && ch <= 'z' {
			b[i] = ch - 'a' + 'A'
		}
		up = ch == '/' || ch == '_' || ch == '-'
	}
	return string(b)
}

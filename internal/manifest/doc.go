// Package manifest holds the checks for the Slack app manifest in the
// repository root (manifest.yaml): that it validates against Slack's own JSON
// Schema for app manifests, and that it declares everything the bot relies on
// (Socket Mode, interactivity, slash commands, the message shortcut, bot
// events and OAuth scopes). It has no code outside its tests.
package manifest

package backend

import (
	"ulc/actions"
	"ulc/actions/caep"
	"ulc/actions/github"
	"ulc/actions/google"
	"ulc/actions/microsoft"
	"ulc/actions/slack"
	"ulc/actions/zoom"
	"ulc/config"
)

// The connectors of every kind of target ulc signs users out of besides
// Global Token Revocation, which the engine has built in.
func init() {
	actions.Register(config.KindGoogle, google.Connector{})
	actions.Register(config.KindMicrosoft, microsoft.Connector{})
	actions.Register(config.KindSlack, slack.Connector{})
	actions.Register(config.KindCAEP, caep.Connector{})
	actions.Register(config.KindZoom, zoom.Connector{})
	actions.Register(config.KindGitHub, github.Connector{})
}

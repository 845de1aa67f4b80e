// Package deploy checks the deployment files statically: the compose file
// through the compose-spec loader that Compose v2 uses, and the Helm chart
// rendered with Helm's Go SDK and decoded strictly into Kubernetes API
// types. It is its own module so these heavy dependencies never enter a
// service.
package deploy

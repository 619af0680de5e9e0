// Package deploytest checks vpnflow's production deployment files —
// docker-compose.yml, the Dockerfile, deploy/ and deploy/.env.example —
// against the configuration contract in internal/config and the search
// attributes in internal/shop (searchattr.go), and that the production programs link
// nothing of internal/dev. There is no Docker engine where the tests run, so
// the files are loaded and parsed, not started.
package deploytest

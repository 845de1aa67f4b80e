module github.com/messageplane/mp/services/rpc

go 1.26

replace (
	github.com/messageplane/mp => ../..
	github.com/messageplane/mp/proto => ../../proto
)

module github.com/messageplane/mp/services/store

go 1.26

replace (
	github.com/messageplane/mp => ../..
	github.com/messageplane/mp/proto => ../../proto
)

package main

import (
	"context"
	"fmt"
	"net"

	"github.com/messageplane/mp/internal/zmqx"
)

// startRaw starts the baseline on free loopback ports: a ROUTER that echoes
// every request as its reply, and a PULL sink relaying every message to a
// PUB socket. Each socket is owned by its goroutine.
func startRaw() (endpoints, func(), error) {
	port := func() (string, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer l.Close()
		return fmt.Sprintf("tcp://127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port), nil
	}
	t := endpoints{name: "raw", raw: true}
	var err error
	for _, ep := range []*string{&t.rpc, &t.pub, &t.ingest} {
		if *ep, err = port(); err != nil {
			return t, nil, err
		}
	}
	zctx, err := zmqx.NewContext()
	if err != nil {
		return t, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		router, err := zmqx.Bind(zctx, zmqx.ROUTER, t.rpc, zmqx.Options{SndHWM: 100000, RcvHWM: 100000})
		errs <- err
		if err != nil {
			return
		}
		defer router.Close()
		loop(ctx, router, func(frames [][]byte) { _, _ = router.SendMessage(frames) })
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		pull, err := zmqx.Bind(zctx, zmqx.PULL, t.ingest, zmqx.Options{RcvHWM: 10000})
		if err != nil {
			errs <- err
			return
		}
		defer pull.Close()
		pub, err := zmqx.Bind(zctx, zmqx.PUB, t.pub, zmqx.Options{SndHWM: 100000})
		errs <- err
		if err != nil {
			return
		}
		defer pub.Close()
		topic := []byte("raw.relay")
		loop(ctx, pull, func(frames [][]byte) {
			_, _ = pub.SendMessage(topic, frames[len(frames)-1])
			rawRelayed.Add(1)
		})
	}()
	for range 2 {
		if err := <-errs; err != nil {
			cancel()
			return t, nil, err
		}
	}
	return t, func() { cancel(); <-done; <-done; zctx.Term() }, nil
}

// loop reads every message of s and hands it to fn until ctx ends.
func loop(ctx context.Context, s *zmqx.Socket, fn func([][]byte)) {
	poller := zmqx.NewPoller()
	poller.Add(s, zmqx.POLLIN)
	for ctx.Err() == nil {
		polled, err := poller.Poll(pollInterval)
		if err != nil || len(polled) == 0 {
			continue
		}
		for {
			frames, err := s.RecvMessageBytes(zmqx.DONTWAIT)
			if err != nil {
				break
			}
			fn(frames)
		}
	}
}

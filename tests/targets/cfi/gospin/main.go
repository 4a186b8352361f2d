// Spins for os.Args[1] milliseconds in spinbp, an assembly function that
// holds rbp at zero, under work, in a goroutine; a few goroutines sleep
// meanwhile, one reads the clock, and the main goroutine waits on the main
// thread. Go writes its call frame information to .debug_frame only, so
// only that can tell spinbp's callers. Prints "ready" first.
package main

import (
	"fmt"
	"os"
	// Threads started by libc, as in any program that uses cgo: their
	// system stacks hold what libc left above the runtime's first frame.
	"runtime"
	_ "runtime/cgo"
	"strconv"
	"time"
)

func spinbp(n uint64) uint64

var sink uint64

//go:noinline
func work(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
		sink += spinbp(1 << 16)
	}
}

// Reads the clock in a loop: time.now moves to the system stack around
// the vdso call, but not before, where its caller is clock.
//
//go:noinline
func clock(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

func main() {
	ms, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "usage: gospin MS")
		os.Exit(2)
	}
	d := time.Duration(ms) * time.Millisecond
	// The main goroutine keeps the main thread: while it waits below, that
	// thread sleeps on its system stack, under runtime.mcall, above which
	// the runtime's start left its own frames.
	runtime.LockOSThread()
	fmt.Println("ready")
	done := make(chan bool)
	for i := 0; i < 3; i++ {
		go func() { time.Sleep(d) }()
	}
	go func() {
		work(d)
		done <- true
	}()
	go clock(d)
	<-done
}

// Command reconcile makes a Sanctum host match its checked-in catalog and
// says exactly where it does not.
package main

import (
	"os"

	"github.com/sanctum-haus/reconcile/cmd/reconcile/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }

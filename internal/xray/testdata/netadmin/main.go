// Command netadmin is TestEnableNetAdminFromFileCapability's helper. Run
// as an ordinary user, from a binary that may carry cap_net_admin=p, it
// does what the worker in the container image does: wake the capability
// (xray.EnableNetAdmin), then end a removed user's sessions on a real
// Xray. It prints one line: the outcome of each step.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"vpnflow/internal/xray"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: netadmin API_ADDR INBOUND_TAG EMAIL")
		os.Exit(2)
	}
	enabled, err := xray.EnableNetAdmin()
	if err != nil {
		fmt.Printf("enable error: %v\n", err)
		os.Exit(1)
	}
	c, err := xray.Dial(os.Args[1], os.Args[2], nil)
	if err != nil {
		fmt.Printf("dial error: %v\n", err)
		os.Exit(1)
	}
	defer c.Close()
	d, err := c.Disconnect(context.Background(), os.Args[3])
	fmt.Printf("uid=%d enabled=%v connections=%d denied=%v err=%v\n",
		os.Getuid(), enabled, d.Connections, errors.Is(err, xray.ErrDisconnectDenied), err)
}

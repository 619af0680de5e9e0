package main

import (
	"context"
	"errors"
)

func applySchedules(ctx context.Context) error {
	return errors.New("schedules are not defined yet")
}

package telegram_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/go-telegram/bot"

	"vpnflow/internal/dev/fake/telegram"
)

// An end-to-end test points the production bot at the stand-in, plays the
// user, and waits for what the bot answers.
func Example() {
	srv, err := telegram.New(telegram.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Start("127.0.0.1:0"); err != nil {
		log.Fatal(err)
	}

	// The code under test builds its client exactly as in production,
	// only with another server URL.
	b, err := bot.New(srv.Token(), bot.WithServerURL(srv.URL()))
	if err != nil {
		log.Fatal(err)
	}
	_ = b // ... register handlers and b.Start(ctx) ...

	user, _ := srv.AddUser(telegram.User{FirstName: "Alice", LanguageCode: "en"})
	if _, err := srv.SendText(user.ID, "/start"); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	menu, err := srv.WaitForMessage(ctx, user.ID, func(m telegram.Message) bool {
		return strings.Contains(m.Text, "Choose a plan")
	})
	if err != nil {
		log.Fatal(err)
	}
	id, _ := srv.PressButton(user.ID, menu.ID, "plan:1m")
	answer, _ := srv.WaitForCallbackAnswer(ctx, id)
	fmt.Println(answer.Text)
}

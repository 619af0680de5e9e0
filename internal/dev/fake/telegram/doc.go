// Package telegram is a local stand-in for the Telegram Bot API.
//
// It speaks the documented wire format (https://core.telegram.org/bots/api):
// POST or GET /bot<token>/<method> with multipart, url-encoded, JSON or
// query-string parameters, answering {"ok":true,"result":...} or
// {"ok":false,"error_code":...,"description":...} with the descriptions
// Telegram uses. Updates are served by getUpdates long polling or pushed to
// a webhook. Message text is parsed the way Telegram parses it (HTML,
// MarkdownV2, Markdown), so a message that Telegram would reject with
// "can't parse entities" is rejected here too.
//
// Tests drive it as the people on the other side of the chat would (AddUser,
// SendText, PressButton, PayStarsInvoice, BlockBot), switch on failures
// (SetRateLimit, SetOutage) and read back what the bot did (Calls, Messages,
// WaitForMessage). The same server serves a sandbox chat page at / where an
// operator without a Telegram account can talk to the bot in a browser.
//
// Deliberate differences from the real service: webhook URLs may be plain
// http on any port, photos given by URL are not downloaded, and inline
// button URLs pointing at localhost are accepted so the sandbox can link to
// local services.
package telegram

package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Plan is one thing the shop sells: a number of days of VPN access.
type Plan struct {
	ID    string
	Days  int
	Price int64 // in minor units of SHOP_CURRENCY (cents for USD)
	Stars int64 // price in Telegram Stars (XTR); 0 means not sold for Stars
}

// ParsePlans reads PLANS: comma-separated id:days:price:stars entries, such as
// "1m:30d:3.00:150". Prices are decimal amounts in SHOP_CURRENCY.
func ParsePlans(s string) ([]Plan, error) {
	var plans []Plan
	seen := map[string]bool{}
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		parts := strings.Split(entry, ":")
		if len(parts) != 4 {
			return nil, fmt.Errorf("entry %q must be id:days:price:stars, e.g. 1m:30d:3.00:150", entry)
		}
		id := parts[0]
		if !validPlanID(id) {
			// Plan ids travel in callback data, which keeps to this set.
			return nil, fmt.Errorf("entry %q: plan id must be 1-16 characters of A-Z a-z 0-9 . _ -", entry)
		}
		if seen[id] {
			return nil, fmt.Errorf("plan id %q appears twice", id)
		}
		seen[id] = true
		days, err := strconv.Atoi(strings.TrimSuffix(parts[1], "d"))
		if err != nil || days <= 0 || days > 3660 {
			return nil, fmt.Errorf("entry %q: days must be 1d-3660d, got %q", entry, parts[1])
		}
		price, err := ParseMoney(parts[2])
		if err != nil || price <= 0 {
			return nil, fmt.Errorf("entry %q: price must be a positive amount such as 3.00, got %q", entry, parts[2])
		}
		stars, err := strconv.ParseInt(parts[3], 10, 64)
		if err != nil || stars < 0 {
			return nil, fmt.Errorf("entry %q: stars must be a whole number >= 0, got %q", entry, parts[3])
		}
		plans = append(plans, Plan{ID: id, Days: days, Price: price, Stars: stars})
	}
	if len(plans) == 0 {
		return nil, fmt.Errorf("no plans given")
	}
	return plans, nil
}

// ParseMoney reads a decimal amount with at most two fraction digits into
// minor units. Money never passes through a float.
func ParseMoney(s string) (int64, error) {
	whole, frac, hasFrac := strings.Cut(strings.TrimSpace(s), ".")
	if whole == "" || strings.HasPrefix(whole, "-") || strings.HasPrefix(whole, "+") {
		return 0, fmt.Errorf("%q is not an amount such as 3.00", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 1_000_000_000 {
		return 0, fmt.Errorf("%q is not an amount such as 3.00", s)
	}
	var f int64
	if hasFrac {
		if len(frac) == 0 || len(frac) > 2 {
			return 0, fmt.Errorf("%q must have one or two digits after the point", s)
		}
		if len(frac) == 1 {
			frac += "0"
		}
		f, err = strconv.ParseInt(frac, 10, 64)
		if err != nil || f < 0 {
			return 0, fmt.Errorf("%q is not an amount such as 3.00", s)
		}
	}
	return w*100 + f, nil
}

// FormatMoney is ParseMoney's inverse: 300 → "3.00".
func FormatMoney(minor int64) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d", sign, minor/100, minor%100)
}

func validPlanID(id string) bool {
	if id == "" || len(id) > 16 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

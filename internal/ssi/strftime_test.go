package ssi

import (
	"testing"
	"time"
)

func TestStrftime(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	t1 := time.Unix(1709622489, 0) // Tuesday 2024-03-05 07:08:09 UTC
	t2 := time.Unix(1609506000, 0) // Friday 2021-01-01 13:00:00 UTC, ISO week 53 of 2020
	tests := []struct {
		t      time.Time
		format string
		want   string
	}{
		{t1.UTC(), DefaultTimeFormat, "Tuesday, 05-Mar-2024 07:08:09 GMT"},
		{t1.In(est), DefaultTimeFormat, "Tuesday, 05-Mar-2024 02:08:09 EST"},
		{t2.UTC(), DefaultTimeFormat, "Friday, 01-Jan-2021 13:00:00 GMT"},
		{t1.UTC(), "%a %b %e %j %u %w %U %W %V %G %g", "Tue Mar  5 065 2 2 09 10 10 2024 24"},
		{t2.UTC(), "%a %b %e %j %u %w %U %W %V %G %g", "Fri Jan  1 001 5 5 00 00 53 2020 20"},
		{t1.UTC(), "%c|%D|%F|%T|%R|%r|%x|%X", "Tue Mar  5 07:08:09 2024|03/05/24|2024-03-05|07:08:09|07:08|07:08:09 AM|03/05/24|07:08:09"},
		{t2.UTC(), "%c|%D|%F|%T|%R|%r|%x|%X", "Fri Jan  1 13:00:00 2021|01/01/21|2021-01-01|13:00:00|13:00|01:00:00 PM|01/01/21|13:00:00"},
		{t1.UTC(), "%I %l %k %p %P %y %C %m %M %S %z", "07  7  7 AM am 24 20 03 08 09 +0000"},
		{t2.In(est), "%I %l %k %p %P %y %C %m %M %S %z", "08  8  8 AM am 21 20 01 00 00 -0500"},
		{t2.UTC(), "%I %l %k %p %P", "01  1 13 PM pm"},
		{t1.UTC(), "%n%t%%", "\n\t%"},
		{t1.UTC(), "%s", "1709622489"},
		{t1.In(est), "%s", "1709622489"},
		{t1.In(est), "x%s", "x1709622489"},
		{t1.UTC(), "%Q %5Q %^a %#B %#p %#Z %-d %_m %05e %10A %-5H %Ey %Od %Ed %",
			"%Q   %5Q TUE MARCH am gmt 5  3 00005    Tuesday     7 24 05 %Ed %"},
		{t2.In(est), "%Q %5Q %^a %#B %#p %#Z %-d %_m %05e %10A %-5H %Ey %Od %Ed %",
			"%Q   %5Q FRI JANUARY am est 1  1 00001     Friday     8 21 01 %Ed %"},
		{t1.UTC(), "", ""},
		{t1.UTC(), "no conversions", "no conversions"},
	}
	for _, tc := range tests {
		got := Strftime([]byte("pre:"), []byte(tc.format), tc.t)
		if string(got) != "pre:"+tc.want {
			t.Errorf("Strftime(%q, %v) = %q, want %q", tc.format, tc.t, got[4:], tc.want)
		}
	}
}

package detect

import (
	"slices"
	"time"

	"github.com/vigilaudit/vigil/internal/config"
)

// Expressions the built-in rules share.
const (
	completedDownload = `event == "file.transfer" && "CONTENT_COMPLETED" in operations`
	// deleter is who deleted: the reporting device's user for FILE
	// events, the caller for folder.destroy.
	deleter = `event == "folder.destroy" ? caller.email : verified_submitter.user_id`
	deleted = `event == "folder.destroy" ? "folder:" + folder.id : soid.sid + soid.oid`
	// sharer is who shared: the inviter, the joining user's inviter is
	// unknown so the caller, and the transfer's reporting user.
	sharer = `event == "folder.invite" ? sharer : event == "folder.join" ? caller.email : verified_submitter.user_id`
	// departed is who left: the deleted account or the removed user.
	departed = `event == "user.delete" ? email : target_user`
	// twoFactorRank orders the two-factor levels, weakest first.
	twoFactorRank = `{"DISALLOWED": 0, "OPT_IN": 1, "MANDATORY": 2}`
)

// builtins are the rules on by default. A new built-in rule is one more
// entry here and its golden file, testdata/rules/NAME.txtar.
var builtins = []Rule{
	{
		Name: "mass-download", Severity: High, Unit: "files",
		Description: "one user received the content of more than 100 distinct files in an hour",
		Match:       completedDownload, GroupBy: []string{"destination_user"},
		Window: hours(1), Threshold: &Threshold{Distinct: "soid.sid + soid.oid", Count: 100},
	},
	{
		Name: "mass-download-bytes", Severity: High, Unit: "bytes",
		Description: "one user received more than 2 GiB of file content in an hour (transfers that carry bytes)",
		Match:       completedDownload + ` && bytes != null`, GroupBy: []string{"destination_user"},
		Window: hours(1), Threshold: &Threshold{Sum: "bytes", Count: 2 << 30},
	},
	{
		Name: "mass-download-baseline", Severity: Medium, Unit: "files",
		Description: "one user's downloads of a day above 3x their own 30-day daily average and above 100",
		Match:       completedDownload, GroupBy: []string{"destination_user"},
		Baseline: &Baseline{Days: 30, Factor: 3, Floor: 100, MinDays: 14},
	},
	{
		Name: "mass-deletion", Severity: High, Unit: "files",
		Description: "one user deleted more than 10 distinct files or shared folders in an hour",
		Match:       `(event in ["file.notification", "file.transfer"] && "DELETE" in operations) || event == "folder.destroy"`,
		GroupBy:     []string{deleter},
		Window:      hours(1), Threshold: &Threshold{Distinct: deleted, Count: 10},
	},
	{
		Name: "signin-brute-force", Severity: High, Unit: "failed sign-ins",
		Description: "more than 10 failed sign-ins for one user in 5 minutes",
		Match:       `event == "user.password.error"`, GroupBy: []string{"user"},
		Window: minutes(5), Threshold: &Threshold{Count: 10},
	},
	{
		Name: "credential-stuffing", Severity: High, Unit: "users",
		Description: "one IP address failed to sign in as 8 or more users in 10 minutes",
		Match:       `event == "user.password.error" && ip != null`, GroupBy: []string{"ip"},
		Window: minutes(10), Threshold: &Threshold{Distinct: "user", Count: 7},
	},
	{
		Name: "signin-after-failures", Severity: High, Unit: "sign-ins",
		Description: "a successful sign-in after 5 or more failures for the user in 10 minutes",
		GroupBy:     []string{"user"}, Window: minutes(10),
		Sequence: []Step{
			{Match: `event == "user.password.error"`, Count: 4},
			{Match: `event == "user.signin"`, Within: minutes(10)},
		},
	},
	{
		Name: "new-device-burst", Severity: High, Unit: "transfers",
		Description: "a newly certified device received more than 100 file transfers within 24 hours",
		GroupBy:     []string{"device_id"}, Window: hours(24),
		Sequence: []Step{
			{Match: `event == "device.certify"`},
			{Match: `event == "file.transfer"`, GroupBy: []string{"destination_device"}, Count: 100, Within: hours(24)},
		},
	},
	{
		Name: "device-certify-burst", Severity: Medium, Unit: "devices certified",
		Description: "3 or more devices certified by one user in 10 minutes",
		Match:       `event == "device.certify"`, GroupBy: []string{"user"},
		Window: minutes(10), Threshold: &Threshold{Distinct: "device_id", Count: 2},
	},
	{
		Name: "external-sharing", Severity: Medium, Unit: "external shares",
		Description: "a user shared with an address outside the organization's domains (detect.org_domains) and its allowed partners",
		Match: `(event == "folder.invite" && external(target, timestamp)) || ` +
			`(event == "folder.join" && (join_as == "external" || external(target, timestamp))) || ` +
			`(event == "file.transfer" && external(destination_user, timestamp))`,
		GroupBy: []string{sharer}, Window: hours(1), Threshold: &Threshold{Count: 0},
	},
	{
		Name: "external-sharing-burst", Severity: High, Unit: "external shares",
		Description: "more than 10 shares with external addresses by one user in an hour",
		Match: `(event == "folder.invite" && external(target, timestamp)) || ` +
			`(event == "folder.join" && (join_as == "external" || external(target, timestamp))) || ` +
			`(event == "file.transfer" && external(destination_user, timestamp))`,
		GroupBy: []string{sharer}, Window: hours(1), Threshold: &Threshold{Count: 10},
	},
	{
		Name: "link-unprotected", Severity: Low, Unit: "links",
		Description: "a link was created and given neither a password nor an expiry within 10 minutes",
		GroupBy:     []string{"key"}, Window: minutes(10),
		Sequence: []Step{
			{Match: `event == "link.create"`},
			{Match: `event in ["link.set_password", "link.set_expiry"] || (event == "link.update" && (set_password == true || expiry != null))`, Within: minutes(10), Absent: true},
		},
	},
	{
		Name: "link-weakened", Severity: Medium, Unit: "changes",
		Description: "a link lost its password or expiry, or stopped requiring a signed-in user",
		Match:       `event in ["link.remove_password", "link.remove_expiry"] || (event in ["link.set_require_login", "link.update"] && require_login == false)`,
		GroupBy:     []string{"key"}, Window: hours(1), Threshold: &Threshold{Count: 0},
	},
	{
		Name: "link-download-ips", Severity: High, Unit: "IP addresses",
		Description: "one link was downloaded from more than 20 distinct IP addresses in an hour",
		Match:       `event == "link.download"`, GroupBy: []string{"key"},
		Window: hours(1), Threshold: &Threshold{Distinct: "ip", Count: 20},
	},
	{
		Name: "link-create-burst", Severity: Medium, Unit: "links",
		Description: "more than 50 links created by one user in a day",
		Match:       `event == "link.create"`, GroupBy: []string{"caller.email"},
		Window: hours(24), Threshold: &Threshold{Count: 50},
	},
	{
		Name: "signin-new-network", Severity: Medium, Unit: "networks",
		Description: "a user signed in from a network (/24 or /64) they had not used in 30 days",
		Match:       `event == "user.signin" && ip != null`, GroupBy: []string{"user"},
		Novel: &Novel{Value: "network(ip)", Days: 30},
	},
	{
		Name: "signin-then-2fa-disable", Severity: High, Unit: "changes",
		Description: "two-factor authentication turned off within 12 hours of a sign-in and not turned back on within an hour",
		GroupBy:     []string{"user"}, Window: hours(12),
		Sequence: []Step{
			{Match: `event == "user.signin"`},
			{Match: `event == "user.2fa.disable"`, Within: hours(12)},
			{Match: `event == "user.2fa.enable"`, Within: hours(1), Absent: true},
		},
	},
	{
		Name: "admin-2fa-disable", Severity: High, Unit: "changes",
		Description: "a user's two-factor authentication was turned off by someone else",
		Match:       `event == "user.2fa.disable" && caller.email != user`, GroupBy: []string{"user"},
		Window: hours(1), Threshold: &Threshold{Count: 0},
	},
	{
		Name: "org-2fa-lowered", Severity: High, Unit: "changes",
		Description: "the organization's two-factor enforcement level was lowered",
		Match:       `event == "org.2fa.level" && ` + twoFactorRank + `[new_level] < ` + twoFactorRank + `[old_level]`,
		GroupBy:     []string{"org"}, Window: hours(1), Threshold: &Threshold{Count: 0},
	},
	{
		Name: "admin-promoted", Severity: Medium, Unit: "promotions",
		Description: "a user was promoted to organization admin",
		Match:       `event == "user.org.authorization" && new_level == "ADMIN"`, GroupBy: []string{"target_user"},
		Window: hours(1), Threshold: &Threshold{Count: 0},
	},
	{
		Name: "device-removed-by-other", Severity: Medium, Unit: "devices",
		Description: "a device was unlinked or erased by someone other than its owner",
		Match:       `event in ["device.unlink", "device.erase"] && admin_user != owner`, GroupBy: []string{"device"},
		Window: hours(1), Threshold: &Threshold{Count: 0},
	},
	{
		Name: "device-removal-burst", Severity: High, Unit: "devices",
		Description: "more than 5 devices unlinked or erased by one user in an hour",
		Match:       `event in ["device.unlink", "device.erase"]`, GroupBy: []string{"admin_user"},
		Window: hours(1), Threshold: &Threshold{Distinct: "device", Count: 5},
	},
	{
		Name: "activity-after-departure", Severity: High, Unit: "events",
		Description: "a user acted after their account was deleted or they were removed from the organization",
		GroupBy:     []string{departed}, Window: hours(24),
		Sequence: []Step{
			{Match: `event in ["user.delete", "user.org.remove"]`},
			{Match: `actor != null`, GroupBy: []string{"actor"}, Within: hours(24 * 90), OnlyAfter: true},
		},
	},
	{
		Name: "departure-recap", Severity: Medium, Unit: "events",
		Description: "a departing user's transfers, links and external invitations, summarised when they are removed or deleted",
		Match: `event == "file.transfer" || event == "link.create" || ` +
			`(event == "folder.invite" && external(target, timestamp))`,
		GroupBy: []string{`event == "file.transfer" ? verified_submitter.user_id : event == "link.create" ? caller.email : sharer`},
		Recap:   &Recap{Trigger: `event in ["user.delete", "user.org.remove"]`, TriggerGroupBy: []string{departed}, Days: 30},
	},
	{
		Name: "pipeline-seq-gap", Severity: Medium, Unit: "sequence gaps",
		Description: "a device's uploads skipped sequence numbers: it lost or withheld events",
		Match:       `event == "alert.device.seq_gap"`, GroupBy: []string{"user", "device"},
		Window: hours(1), Threshold: &Threshold{Count: 0},
	},
	{
		Name: "pipeline-log-skipped", Severity: High, Unit: "skips",
		Description: "a consumer group fell behind the event log's retention and skipped records",
		Match:       `event == "alert.log.skipped"`, GroupBy: []string{"group"},
		Window: hours(1), Threshold: &Threshold{Count: 0},
	},
}

// Builtins returns the built-in rules with their defaults.
func Builtins() []Rule {
	out := slices.Clone(builtins)
	for i := range out {
		out[i].GroupBy = slices.Clone(out[i].GroupBy)
		out[i].Sequence = slices.Clone(out[i].Sequence)
	}
	return out
}

func hours(n int) config.Duration   { return config.Duration(time.Duration(n) * time.Hour) }
func minutes(n int) config.Duration { return config.Duration(time.Duration(n) * time.Minute) }

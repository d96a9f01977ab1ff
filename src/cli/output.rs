//! Output shared by the commands.

use crate::fsops::human_bytes;

/// An op of a JSON report (as the API sends it), described like
/// [`describe_op`] does.
pub fn describe_op_json(op: &serde_json::Value) -> String {
    let s = |k: &str| op[k].as_str().unwrap_or_default().to_string();
    match op["op"].as_str().unwrap_or_default() {
        "move" => format!("move     {}: {} -> {}", s("side"), s("from"), s("to")),
        "delete" => {
            let reason = match s("reason").as_str() {
                "deleted-on-other-side" => " (deleted on the other side)",
                "mirror" => " (not on the source side of the mirror)",
                "kind-changed" => " (replaced by another kind of item on the other side)",
                "deselected" => " (its folder is deselected)",
                _ => "",
            };
            format!("delete   {}: {} to the trash{reason}", s("side"), s("path"))
        }
        "make-dir" => format!("mkdir    {}: {}", s("side"), s("path")),
        "transfer" => {
            let verb = if op["to"] == "remote" {
                "upload  "
            } else {
                "download"
            };
            let size = op["size"].as_u64().unwrap_or(0);
            format!("{verb} {} ({})", s("path"), human_bytes(size))
        }
        "adopt" => format!("adopt    {} (already equal)", s("path")),
        "forget" => format!("forget   {} (gone on both sides)", s("path")),
        other => format!("{other} {}", s("path")),
    }
}

//! The tray's icon images, built into the program from `assets/png/` (the
//! bold 24 px drawings), decoded to RGBA for the backend.

use super::menu::IconState;

/// The side of the tray icons, in pixels.
pub const SIZE: u32 = 24;

/// The PNG of a state's icon.
pub fn png(state: IconState) -> &'static [u8] {
    match state {
        IconState::Synced => include_bytes!("../../assets/png/ferry-synced-24.png"),
        IconState::Syncing => include_bytes!("../../assets/png/ferry-syncing-24.png"),
        IconState::Paused => include_bytes!("../../assets/png/ferry-paused-24.png"),
        IconState::Offline => include_bytes!("../../assets/png/ferry-offline-24.png"),
        IconState::Error => include_bytes!("../../assets/png/ferry-error-24.png"),
        IconState::Credentials => include_bytes!("../../assets/png/ferry-credentials-24.png"),
        IconState::Confirm => include_bytes!("../../assets/png/ferry-confirm-24.png"),
    }
}

/// A decoded icon: RGBA rows, `width` × `height`.
pub struct Rgba {
    pub rgba: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Decode a state's icon to RGBA.
pub fn rgba(state: IconState) -> anyhow::Result<Rgba> {
    decode(png(state))
        .map_err(|e| anyhow::anyhow!("the {} tray icon cannot be read: {e}", state.name()))
}

fn decode(bytes: &[u8]) -> Result<Rgba, png::DecodingError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size().unwrap_or(0)];
    let info = reader.next_frame(&mut buf)?;
    buf.truncate(info.buffer_size());
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        png::ColorType::GrayscaleAlpha => buf
            .chunks(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        _ => buf.iter().flat_map(|g| [*g, *g, *g, 255]).collect(),
    };
    Ok(Rgba {
        rgba,
        width: info.width,
        height: info.height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_its_own_icon_of_the_tray_size() {
        let mut seen = Vec::new();
        for state in IconState::ALL {
            let icon = rgba(state).unwrap();
            assert_eq!((icon.width, icon.height), (SIZE, SIZE), "{state:?}");
            assert_eq!(icon.rgba.len(), (SIZE * SIZE * 4) as usize, "{state:?}");
            assert!(
                !seen.contains(&icon.rgba),
                "{state:?} looks like another state"
            );
            seen.push(icon.rgba);
        }
    }
}

import QRCode from "qrcode";
import { useEffect, useState } from "react";

/** A QR code rendered locally (no network) as a data URL. */
export function QrCode({ value, label }: { value: string; label: string }) {
  const [src, setSrc] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    QRCode.toDataURL(value, { margin: 1, width: 176, errorCorrectionLevel: "M", color: { dark: "#0b1020", light: "#ffffff" } })
      .then((url) => live && setSrc(url))
      .catch(() => live && setFailed(true));
    return () => {
      live = false;
    };
  }, [value]);
  if (failed) return <div className="qr qr-missing">QR unavailable</div>;
  if (!src) return <div className="qr qr-loading" aria-busy="true" />;
  return <img className="qr" src={src} alt={`QR code for ${label}`} width={176} height={176} />;
}

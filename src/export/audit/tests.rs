use super::*;

fn row(secs: u64, id: &str, record: &str) -> StoredAlert {
    StoredAlert {
        seq: 0,
        id: id.into(),
        ts_ns: secs * Ts::NANOS_PER_SEC,
        record: record.into(),
        sensor: "s1".into(),
    }
}

fn rows() -> Vec<StoredAlert> {
    vec![
        row(
            10,
            "a",
            r#"{"ts":"1970-01-01T00:00:10.000000Z","id":"a","kind":"remote_access","family":"rdp","provider":null,"severity":"high","confidence":"handshake","endpoint":"192.0.2.1","contractor":"c-1","peer":"198.51.100.1:3389","flow":{"proto":"tcp","src_ip":"192.0.2.1","src_port":5000,"dst_ip":"198.51.100.1","dst_port":3389,"vlan":0},"evidence":["cookie mstshash==cmd|' /C calc'!A0","x, \"y\"\nz"]}"#,
        ),
        row(
            20,
            "b",
            r#"{"ts":"1970-01-01T00:00:20.000000Z","id":"b","kind":"vpn_tunnel","family":"wireguard","provider":"tailscale","severity":"low","confidence":"heuristic","endpoint":"192.0.2.2","contractor":null,"peer":"198.51.100.2:41641","flow":{"proto":"udp","src_ip":"192.0.2.2","src_port":41641,"dst_ip":"198.51.100.2","dst_port":41641,"vlan":7},"evidence":["-1+1"]}"#,
        ),
    ]
}

/// [`rows`] exported for the period `[0, 100 s)` with no metadata.
fn export_rows(format: Format, out: &Path) -> Result<Manifest, AuditError> {
    export(
        &rows(),
        Ts(0),
        Ts::from_secs(100),
        format,
        out,
        ExportMeta::default(),
    )
}

#[test]
fn csv_cells_cannot_run_formulas_or_break_lines() {
    assert_eq!(csv_cell("=1+1"), "\"'=1+1\"");
    assert_eq!(csv_cell("@SUM(A1)"), "\"'@SUM(A1)\"");
    assert_eq!(csv_cell("-2"), "\"'-2\"");
    assert_eq!(csv_cell("a\nb"), "\"a b\"");
    assert_eq!(csv_cell("plain"), "plain");
    assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
}

#[test]
fn export_then_verify_both_formats_and_detect_tampering() {
    for format in [Format::Csv, Format::Jsonl] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("export");
        let m = export(
            &rows(),
            Ts::from_secs(0),
            Ts::from_secs(100),
            format,
            &out,
            ExportMeta {
                generated_at: Ts::from_secs(1000),
                store_chain_head: Some("abc".into()),
                databases: vec![],
            },
        )
        .unwrap();
        assert_eq!(m.records, 2);
        assert_eq!(m.by_kind["remote_access"], 1);
        assert_eq!(m.by_severity["low"], 1);
        assert_eq!(m.sensors, ["s1"]);
        assert_eq!(m.period["from"], "1970-01-01T00:00:00.000000Z");
        let v = verify(&out).unwrap();
        assert_eq!(v.records, 2);
        assert_eq!(v.head, m.chain.head);

        let data = out.join(&m.files[0].name);
        let text = std::fs::read_to_string(&data).unwrap();
        assert_eq!(
            text.lines().count(),
            if format == Format::Csv { 3 } else { 2 }
        );
        if format == Format::Csv {
            assert!(text.starts_with("ts,id,kind,"));
            assert!(text.contains("\"'-1+1\""), "{text}");
            // The reader sees exactly 2 records of 17 fields.
            let mut r = csv::Reader::from_reader(text.as_bytes());
            let recs: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
            assert_eq!(recs.len(), 2);
            assert!(recs.iter().all(|r| r.len() == CSV_COLUMNS.len()));
            assert_eq!(&recs[1][4], "tailscale");
            assert_eq!(&recs[1][15], "7");
        }

        // Dropping a record, with the file hash fixed up by the attacker, still breaks the chain.
        let kept: Vec<&str> = text.lines().filter(|l| !l.contains("wireguard")).collect();
        let forged = format!("{}\n", kept.join("\n"));
        std::fs::remove_file(&data).unwrap();
        std::fs::write(&data, &forged).unwrap();
        let mpath = out.join(MANIFEST);
        let mut mf: Manifest =
            serde_json::from_str(&std::fs::read_to_string(&mpath).unwrap()).unwrap();
        mf.files[0].sha256 = hex(&Sha256::digest(forged.as_bytes()));
        mf.files[0].records = 1;
        mf.records = 1;
        std::fs::remove_file(&mpath).unwrap();
        std::fs::write(&mpath, serde_json::to_string(&mf).unwrap()).unwrap();
        let e = verify(&out).unwrap_err().to_string();
        assert!(
            e.contains("record 2 (alert b)") && e.contains("removed"),
            "{e}"
        );
        // Without chain.txt's help (removed from the manifest too) the chain head still catches it.
        mf.files.retain(|f| f.format != Format::Chain);
        std::fs::remove_file(&mpath).unwrap();
        std::fs::write(&mpath, serde_json::to_string(&mf).unwrap()).unwrap();
        let e = verify(&out).unwrap_err().to_string();
        assert!(e.contains("hash chain"), "{e}");
    }
}

#[test]
fn a_changed_byte_is_caught_and_an_existing_export_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    export_rows(Format::Jsonl, &out).unwrap();
    let data = out.join("alerts.jsonl");
    let t = std::fs::read_to_string(&data)
        .unwrap()
        .replace("\"high\"", "\"info\"");
    std::fs::remove_file(&data).unwrap();
    std::fs::write(&data, t).unwrap();
    let e = verify(&out).unwrap_err().to_string();
    assert!(
        e.contains("record 1 (alert a, line 1 of alerts.jsonl) was altered"),
        "{e}"
    );
    let again = export_rows(Format::Jsonl, &out);
    assert!(matches!(again, Err(AuditError::Exists(_))));
}

#[test]
fn an_empty_period_exports_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("e");
    let m = export(
        &[],
        Ts(0),
        Ts::from_secs(1),
        Format::Csv,
        &out,
        ExportMeta::default(),
    )
    .unwrap();
    assert_eq!(m.records, 0);
    assert_eq!(verify(&out).unwrap().records, 0);
}

#[test]
fn an_export_killed_before_its_manifest_is_completed_by_the_next_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("2024-03");
    // What an attempt killed half-way leaves: part of the data file, no chain or manifest, and
    // its staging directory.
    std::fs::create_dir_all(out.join(STAGING)).unwrap();
    std::fs::write(out.join(STAGING).join("alerts.jsonl"), "{\"id\":").unwrap();
    std::fs::write(out.join("alerts.jsonl"), "{\"id\":\"a\"").unwrap();
    let m = export_rows(Format::Jsonl, &out).unwrap();
    assert_eq!(verify(&out).unwrap().records, m.records);
    assert_eq!(m.records, rows().len() as u64);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["alerts.jsonl", "chain.txt", "manifest.json"]);
}

#[test]
fn a_new_export_directory_appears_whole_and_a_stale_staging_one_goes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let stale = dir.path().join(".x.partial");
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("alerts.csv"), "half a row").unwrap();
    export_rows(Format::Csv, &out).unwrap();
    assert!(verify(&out).is_ok());
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["x"], "only the export itself is left beside it");
}

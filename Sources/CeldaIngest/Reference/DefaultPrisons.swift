// The built-in prison list: a copy of `Samples/prisons/mexico.csv` (a test checks that they stay
// equal). Every row cites its public source; see that file and shared/corpus/SOURCES.md.

/// The default prison list, so `celda` works from any directory.
public enum DefaultPrisons {
    /// The CSV text of `Samples/prisons/mexico.csv`.
    public static let csv = #"""
        id,name,state,lat,lon,radius_m,source
        cefereso-01-altiplano,"CEFERESO No. 1 ""Altiplano"" (Almoloya de Juárez)",Estado de México,19.4205833,-99.7487472,600,"Wikipedia article 'Federal Social Readaptation Center No. 1' (coordinates 19°25′14.10″N 99°44′55.49″W as shown in the mirror http://piglix.com/piglix/Altiplano_prison; newer mirrors such as https://n.global.ssl.fastly.net/Federal_Social_Readaptation_Center_No._1 give the rounded 19.42056,-99.74861)"
        topo-chico,Centro Preventivo y de Reinserción Social Topo Chico (closed 30 Sep 2019),Nuevo León,25.725033,-100.3447,400,Spanish Wikipedia article 'Penal del Topo Chico' (coordinates 25°43′30″N 100°20′41″W) as reproduced in the machine-translated mirror https://ro.wiki34.com/wiki/Penal_del_Topo_Chico; closure date from https://www.univision.com/noticias/america-latina/clausuran-la-prision-de-topo-chico-asi-fueron-los-ultimos-dias-de-una-de-las-carceles-mas-violentas-de-mexico-fotos-fotos
        islas-marias,"Complejo Penitenciario Islas Marías (closed Feb 2019) – ARCHIPELAGO point, not the prison compound",Nayarit,21.517,-106.483,15000,"Wikipedia article 'Islas Marías' infobox (21°31′N 106°29′W), seen in mirrors https://pinocchiopedia.com/wiki/Marias_Islands and http://en.m.wiki.x.io/wiki/Mar%C3%ADas_Islands; this is the archipelago coordinate, the prison was on Isla María Madre (Puerto Balleto); precision ~10 km"
        puente-grande,Complejo Penitenciario de Puente Grande (state prisons; federal CEFERESO 2 closed 2020),Jalisco,20.5667,-103.15,2500,"Town coordinate of Puente Grande, Tonala (20 deg 34 min N, 103 deg 9 min W) from the German Wikipedia article 'Puente Grande' as mirrored at https://de.zxc.wiki/wiki/Puente_Grande; the prison complex lies by the town, so the radius covers the town-level precision (~2 km). Extortion figures: 1,874,706 calls identified Dec 2022-Oct 2023 (SSPC, see research/peers.md section 0)"

        """#
}
